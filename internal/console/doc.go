// Package console is the admin console served at /admin: the
// user-management screens of the seed products (find a user, filter by
// status and role, deactivate, reactivate, delete, change role, batch
// changes of up to 200 users) and a tenant page (seats, policy, tokens,
// webhooks and event delivery), in English and Japanese.
//
// Pages are rendered on the server from embedded templates (templates/,
// static/): plain HTML forms that work without JavaScript. Every change
// goes through the provision service, so the policy that judges SCIM
// requests judges the console's too and its refusals are shown verbatim.
//
// Sign-in is by a one-time link (IssueLoginLink, printed by
// `scimd admin login-url`) for an active admin or owner, valid for ten
// minutes, that becomes an HTTP-only, SameSite=Strict session cookie.
// Sessions are stored (hashed) in the database, so every replica honours
// them and signing out ends them everywhere; every form carries a CSRF
// token derived from the session, and cross-site posts are refused.
package console
