// Package patch is scimd's PATCH engine: it decodes a SCIM PatchOp request
// (RFC 7644 §3.5.2) and applies its operations to a canonical SCIM document.
//
// Everything here is a pure function of its arguments: no I/O, no clock, no
// globals. Decode turns a request body into []Op; Apply applies the ops to a
// document in place and reports which top-level attributes changed and, for
// Groups, the membership operations the caller must carry out (members are
// never part of the document: membership is stored as rows).
//
// Both functions read client input under schemas.Options: with Lenient set
// they accept the known shapes Okta and Microsoft Entra ID send that bend the
// RFC (op case, "True"/"False" strings, path-less values with dotted or
// URN-qualified keys, manager as a plain string, remove with a value list,
// extension paths written with "." before the attribute, an empty
// Operations array) and report each rewrite through Options.Rewrote; in
// strict mode each of those is a 400 error instead.
//
// Every error meant for the client is a *schemas.Error whose ScimType and
// Detail can be shown as they are; the detail names the operation index and
// path it is about.
package patch
