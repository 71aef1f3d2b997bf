import Logging

/// Sets up the daemons' logging: text on stderr, or JSON lines for production collectors.
enum DaemonLogging {
    static func bootstrap(level: Logger.Level, json: Bool) {
        if json {
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
