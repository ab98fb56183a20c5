// What every server command does first: logs to stderr at the chosen level, and a configuration
// that cannot be used stops it with one line saying why.

import ArgumentParser
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
