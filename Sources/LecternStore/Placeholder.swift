// Placeholder until the store lands.
let migrationCount = EmbeddedMigrations.all.count
