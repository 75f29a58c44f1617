/// The Gatehouse release these binaries belong to (host and bundled plugins ship together).
public enum BuildInfo {
    public static let version = "0.1.0"
}
