import CellaCLI
import Dispatch
import Foundation

@main
struct Cella {
    static func main() {
        // Before any task exists: Swift concurrency then runs on the same event loops as the
        // network I/O, which saves a thread hop on every request (a daemon's hot path).
        CellaCommand.useEventLoopsAsConcurrencyExecutor()
        Task {
            await CellaCommand.run()
        }
        dispatchMain()
    }
}
