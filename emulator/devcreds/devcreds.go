// Package devcreds holds the development defaults of the bundled Dataverse
// emulator: the app registration its token endpoint accepts, the address it
// listens on and the folder it keeps its CA in.
//
// They are defined here once, because three parties must agree on them: the
// emulator (which accepts them), leadbridge's configuration (which falls back
// to them when no Dataverse is configured) and the documentation (README and
// docker-compose.yml, checked by this package's tests). The package imports
// nothing, so that config, which cmd/api links, can use it without linking
// the emulator. The values are development values, printed on start and
// published in the README; they are not secrets.
package devcreds

const (
	// TenantID is the Entra tenant the emulator's token endpoint serves.
	TenantID = "emulator-tenant"
	// ClientID is the application (client) id it accepts.
	ClientID = "leadbridge-dev"
	// ClientSecret is the client secret it accepts.
	ClientSecret = "leadbridge-dev-secret"
	// Addr is the TLS address cmd/dataverse-emulator listens on, and the one
	// the worker writes to when DATAVERSE_URL is unset.
	Addr = "127.0.0.1:8443"
	// DataDir is where cmd/dataverse-emulator keeps ca.pem (relative to the
	// working directory, as `make run` starts it).
	DataDir = ".run/emulator"
)
