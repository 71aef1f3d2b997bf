import CellaCLI

@main
struct Cella {
    static func main() async {
        await CellaCommand.main()
    }
}
