// Package auth makes and checks scimd's bearer tokens and hashes the
// passwords IdPs send.
//
// A token is "scimd_" followed by 43 base64url characters (256 random bits);
// the prefix lets secret scanners find leaked tokens. Only the SHA-256 of a
// token is stored; a presented token is hashed, looked up by hash, and the
// stored hash compared in constant time. Passwords are stored as argon2id
// hashes in PHC string form and never returned.
package auth
