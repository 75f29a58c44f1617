import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// One GET of a JWK Set document, bounded: `timeout` for the whole exchange (connect, TLS, headers, body),
/// at most `maxBodyBytes` of body (counted as it arrives; the transfer is cancelled past it), status 200 only,
/// and no redirect followed at all, so a URL that passed `JWKSetURL` is the only one ever fetched (a redirect
/// to plain http, or to an internal address, never happens).
///
/// Uses FoundationNetworking's URLSession (libcurl underneath; part of the toolchain's Foundation, no package
/// dependency). Its callbacks run on the session's own queue, never an event loop; completions are handed to
/// Dispatch's worker pool. The session is made on first use, so a host without `jwksUri` clients makes none.
/// TLS is verified against libcurl's CA bundle (on Debian the system store, /etc/ssl/certs).
final class JWKSetDownloader: NSObject, URLSessionDataDelegate, Sendable {
    struct Response: Sendable {
        var body: [UInt8]
        /// `Cache-Control: max-age` (RFC 9111 §5.2.2.1), if the server sent one.
        var maxAge: Duration?
    }

    typealias Completion = @Sendable (Result<Response, JWKSetDocument.Refused>) -> Void

    static let maxBodyBytes = 65_536
    let timeout: Duration

    private struct Transfer {
        var completion: Completion
        var body: [UInt8] = []
        var maxAge: Duration?
    }

    private let transfers = Mutex<[Int: Transfer]>([:])
    private let session = Mutex<URLSession?>(nil)

    init(timeout: Duration = .seconds(3)) { self.timeout = timeout }

    func get(_ url: String, completion: @escaping Completion) {
        guard let target = URL(string: url) else { return completion(.failure(.init(reason: "not a URL"))) }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        var request = URLRequest(url: target, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData, timeoutInterval: seconds)
        request.setValue("application/jwk-set+json, application/json", forHTTPHeaderField: "Accept")
        let task = currentSession(timeout: seconds).dataTask(with: request)
        let id = task.taskIdentifier
        transfers.withLock { $0[id] = Transfer(completion: completion) }
        // The total bound, whatever libcurl's own timers do: a server that trickles a byte a second keeps
        // an idle timeout happy forever.
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            if finish(id, .failure(.init(reason: "no complete answer within \(timeout)"))) { task.cancel() }
        }
        task.resume()
    }

    private func currentSession(timeout seconds: Double) -> URLSession {
        session.withLock { session in
            if let session { return session }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = seconds
            configuration.timeoutIntervalForResource = seconds
            configuration.urlCache = nil
            configuration.httpCookieStorage = nil
            configuration.httpShouldSetCookies = false
            configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
            let queue = OperationQueue()
            queue.name = "gatehouse-jwks"
            queue.maxConcurrentOperationCount = 1
            let made = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
            session = made
            return made
        }
    }

    /// Delivers `outcome` once per transfer (on a worker thread); false if it was already delivered.
    @discardableResult
    private func finish(_ id: Int, _ outcome: Result<Response, JWKSetDocument.Refused>) -> Bool {
        guard let transfer = transfers.withLock({ $0.removeValue(forKey: id) }) else { return false }
        DispatchQueue.global().async { transfer.completion(outcome) }
        return true
    }

    // MARK: - URLSessionDataDelegate

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void)
    {
        let id = dataTask.taskIdentifier
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            finish(id, .failure(.init(reason: (300..<400).contains(status) ? "redirected (redirects are not followed)" : "HTTP status \(status)")))
            return completionHandler(.cancel)
        }
        guard http.expectedContentLength <= Int64(Self.maxBodyBytes) else {
            finish(id, .failure(.init(reason: "larger than \(Self.maxBodyBytes) bytes")))
            return completionHandler(.cancel)
        }
        let maxAge = Self.maxAge(http.value(forHTTPHeaderField: "Cache-Control"))
        transfers.withLock { $0[id]?.maxAge = maxAge }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let id = dataTask.taskIdentifier
        let tooLarge = transfers.withLock { transfers -> Bool in
            guard transfers[id] != nil else { return false }
            guard (transfers[id]?.body.count ?? 0) + data.count <= Self.maxBodyBytes else { return true }
            transfers[id]?.body.append(contentsOf: data)
            return false
        }
        if tooLarge, finish(id, .failure(.init(reason: "larger than \(Self.maxBodyBytes) bytes"))) { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void)
    {
        finish(task.taskIdentifier, .failure(.init(reason: "redirected (redirects are not followed)")))
        completionHandler(nil)
        task.cancel()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let id = task.taskIdentifier
        if let error {
            // The error's own words stay out: they can quote the URL's server at length.
            let code = (error as NSError).code
            finish(id, .failure(.init(reason: code == NSURLErrorTimedOut ? "timed out" : "transfer failed (URLError \(code))")))
            return
        }
        guard let transfer = transfers.withLock({ $0[id] }) else { return }
        finish(id, .success(Response(body: transfer.body, maxAge: transfer.maxAge)))
    }

    /// RFC 9111 §5.2.2.1 `max-age=N`; `no-store` and `no-cache` as 0 (the cache's floor then applies).
    static func maxAge(_ header: String?) -> Duration? {
        guard let header else { return nil }
        for directive in header.lowercased().split(separator: ",") {
            let words = directive.trimmingCharacters(in: .whitespaces)
            if words == "no-store" || words == "no-cache" { return .zero }
            if words.hasPrefix("max-age="), let seconds = Int64(words.dropFirst(8).trimmingCharacters(in: CharacterSet(charactersIn: "\""))),
               seconds >= 0
            {
                return .seconds(seconds)
            }
        }
        return nil
    }
}
