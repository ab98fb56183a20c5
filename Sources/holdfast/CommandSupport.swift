// What every server command does first: logs to stderr at the chosen level, and a configuration
// that cannot be used stops it with one line saying why.

import ArgumentParser
import Foundation
import Logging

func bootstrapLogging(_ level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

func loadConfiguration<T>(_ load: () throws -> T) throws -> T {
    do { return try load() } catch { throw ValidationError("\(error)") }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The environment variable a parent sets (to its pid) on a child that must not outlive it.
let exitWithParentVariable = "HOLDFAST_EXIT_WITH_PARENT"

/// A child started by `holdfast demo` exits when the demo is gone, even when the demo was killed
/// with SIGKILL and could not stop it: it watches for being handed to another parent.
func exitWithParent() {
    guard let value = ProcessInfo.processInfo.environment[exitWithParentVariable], let parent = Int32(value) else { return }
    let timer = DispatchSource.makeTimerSource()
    timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
    timer.setEventHandler {
        if getppid() != parent { exit(0) }
    }
    timer.resume()
    parentWatch = timer
}

/// Kept so the timer lives as long as the program; written once, at start, before any other task runs.
nonisolated(unsafe) private var parentWatch: (any DispatchSourceTimer)?
