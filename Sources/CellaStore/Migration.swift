/// One step of the schema. Steps run in order, each in its own transaction together with the
/// row recording it in `schema_migrations`, so a crash leaves the schema at a whole version.
/// Steps are append-only: a released step is never edited, a change is a new step.
struct Migration: Sendable {
    let version: Int
    let summary: String
    let statements: [String]
}

extension StoreError {
    static func schemaTooNew(found: Int, known: Int) -> StoreError {
        StoreError(
            .schemaTooNew,
            "the database is at schema version \(found) but this build knows versions up to \(known); upgrade Cella before using this database"
        )
    }
}
