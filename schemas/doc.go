// Package schemas holds the SCIM schemas and resource types scimd serves —
// core User, Enterprise User extension, Group — defined with
// github.com/elimity-com/scim's schema package, and the attribute catalogue
// that filter validation, projection, PATCH and /Schemas share.
package schemas
