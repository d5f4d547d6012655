package atrium

// SQLJobSpec is what a SQL job (the MaxCompute analogue, Kind SQL) runs:
// a script against a warehouse connection (conn-…) within a timeout.
// Result is written by the SQL runner when the job ends.
type SQLJobSpec struct {
	ConnectionID string     `json:"connectionId"`
	Script       string     `json:"sql"`
	Timeout      Duration   `json:"timeout"`
	Result       *SQLResult `json:"result,omitempty"`
}

// SQLResult is a SQL job's outcome: the rows its statements affected and
// a preview (first SQLPreviewRows rows, values as strings, NULL as "") of
// the last statement that returned rows.
type SQLResult struct {
	RowsAffected int64      `json:"rowsAffected"`
	Columns      []string   `json:"columns,omitempty"`
	Rows         [][]string `json:"rows,omitempty"`
	Truncated    bool       `json:"truncated,omitempty"`
}

// SQLPreviewRows is how many rows a SQL job's result preview keeps.
const SQLPreviewRows = 100

// ConnectionSpec is a connection asset's own fields.
type ConnectionSpec struct {
	// URL is a PostgreSQL URL without password.
	URL string `json:"url"`
}
