package schemas

import "fmt"

// SCIM error types (RFC 7644 §3.12, scimType) used for bad requests.
const (
	InvalidFilter = "invalidFilter"
	TooMany       = "tooMany"
	Uniqueness    = "uniqueness"
	Mutability    = "mutability"
	InvalidSyntax = "invalidSyntax"
	InvalidPath   = "invalidPath"
	NoTarget      = "noTarget"
	InvalidValue  = "invalidValue"
	InvalidVers   = "invalidVers"
	Sensitive     = "sensitive"
)

// Error is a client error found while reading a request: it becomes a 400
// SCIM error with ScimType and Detail, both safe to show the client.
type Error struct {
	ScimType string
	Detail   string
}

// Error implements error.
func (e *Error) Error() string { return e.ScimType + ": " + e.Detail }

// Errorf returns an *Error of the given scimType with a formatted detail.
func Errorf(scimType, format string, args ...any) *Error {
	return &Error{ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}
