// Runs the registration client state machine: sends its REGISTERs through the stack, keeps its
// refresh and retry timers, and reports its state.

import SIPCore
import SIPMessage

public actor Registration {
    public enum Status: Sendable, Equatable {
        case unregistered
        case registering
        case registered(expires: UInt32)
        case failed(String)
    }

    public nonisolated let updates: AsyncStream<Status>
    private let continuation: AsyncStream<Status>.Continuation
    private let stack: SIPStack
    private let target: SIPTarget
    private let clock: any Clock<Duration>
    private var machine: RegistrationClient
    private var timer: Task<Void, Never>?
    public private(set) var status: Status = .unregistered

    public init(stack: SIPStack, target: SIPTarget, configuration: RegistrationClient.Configuration,
                authenticator: any RegistrationAuthenticator, clock: any Clock<Duration> = ContinuousClock()) {
        self.stack = stack
        self.target = target
        self.clock = clock
        self.machine = RegistrationClient(configuration: configuration, authenticator: authenticator)
        (updates, continuation) = AsyncStream.makeStream(of: Status.self, bufferingPolicy: .bufferingNewest(32))
    }

    public func start() {
        set(.registering)
        perform(machine.start())
    }

    /// Stops refreshing without un-registering (the registrar is gone: nobody would answer).
    public func abandon() {
        timer?.cancel()
        timer = nil
        set(.unregistered)
        continuation.finish()
    }

    /// Un-registers (Expires: 0) and waits for the answer.
    public func stop() async {
        timer?.cancel()
        timer = nil
        let actions = machine.stop()
        for action in actions {
            if case .send(let request) = action { await send(request) }
        }
    }

    private func perform(_ actions: [RegistrationClient.Action]) {
        for action in actions {
            switch action {
            case .send(let request):
                Task { await self.send(request) }
            case .registered(let expires):
                set(.registered(expires: expires))
            case .scheduleRefresh(let delay), .scheduleRetry(let delay):
                schedule(after: delay)
            case .failed(let reason):
                set(.failed(reason))
            case .unregistered:
                set(.unregistered)
            }
        }
    }

    private func send(_ request: SIPRequest) async {
        do {
            // The transaction lives on (Timer K) after its final response; we need not wait for that.
            for try await response in await stack.send(request, to: target) where response.isFinal {
                perform(machine.receive(response))
                return
            }
        } catch {
            perform(machine.transactionFailed("\(error)"))
        }
    }

    private func schedule(after delay: Duration) {
        timer?.cancel()
        let clock = self.clock
        timer = Task { [weak self] in
            do { try await clock.sleep(for: delay) } catch { return }
            await self?.timerFired()
        }
    }

    private func timerFired() {
        perform(machine.timerFired())
    }

    private func set(_ new: Status) {
        status = new
        continuation.yield(new)
    }
}
