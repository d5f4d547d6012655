package atrium

import "context"

// Store is the whole storage contract; sqlstore implements it on SQLite and
// PostgreSQL and storetest holds the conformance suite both must pass.
type Store interface {
	UserService
	WorkspaceService
	OperationLogService
	ComputeService
	JobService
	UsageService
	AssetService
	EventService
	AlertService
	PipelineService
	LeaseService
	DSWHandoffService
	RegistryService

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
