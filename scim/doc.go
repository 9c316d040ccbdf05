// Package scim is scimd's protocol layer: the SCIM 2.0 HTTP surface (RFC
// 7644) on chi. routes.go lists every URL; middleware.go holds request ids,
// logging, panic recovery, body limits, metrics and bearer-token auth;
// users.go and groups.go the resource handlers; list.go paging, sorting and
// projection; filter.go turns filter text into store.Filter; discovery.go the
// /ServiceProviderConfig, /ResourceTypes and /Schemas endpoints; errors.go
// is the one table that turns every error into a SCIM error response.
//
// Reads go to the store directly; every change goes through
// internal/provision. The PATCH engine lives in scim/patch.
package scim
