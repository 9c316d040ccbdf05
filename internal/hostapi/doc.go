// Package hostapi is the small HTTP API the host product calls under
// /api/v1: today the access check, which says whether a user may sign in.
// It authenticates with host tokens (scimd token create --kind host); SCIM
// tokens are refused here, as host tokens are refused on /scim/v2.
package hostapi
