package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// adminLoginURL prints a one-time sign-in link to the admin console.
func (e *env) adminLoginURL(ctx context.Context, args []string) error {
	fs := e.flags("admin login-url")
	tenantName := fs.String("tenant", "", "tenant name")
	userName := fs.String("user", "", "userName of an active admin or owner of the tenant")
	base := fs.String("url", e.consoleOrigin(), "the server's public URL (default from SCIMD_PUBLIC_URL, SCIMD_BASE_URL or SCIMD_ADDR)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *tenantName == "" || *userName == "" {
		return errors.New("admin login-url needs --tenant and --user")
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	link, err := console.IssueLoginLink(ctx, db, provision.New(db, nil, nil), cliActor, *tenantName, *userName, *base, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w (no such tenant, or no live user with that userName in it)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, link)
	fmt.Fprintf(e.stderr, "one-time sign-in link for %s in tenant %s; it works once, within %s\n", *userName, *tenantName, console.LoginLinkTTL)
	return nil
}

// consoleOrigin is the URL the console is reached at: SCIMD_PUBLIC_URL,
// else SCIMD_BASE_URL without its /scim/v2, else the listen address.
func (e *env) consoleOrigin() string {
	if v := e.getenv("SCIMD_PUBLIC_URL"); v != "" {
		return strings.TrimRight(v, "/")
	}
	if v := e.getenv("SCIMD_BASE_URL"); v != "" {
		return strings.TrimSuffix(strings.TrimRight(v, "/"), "/scim/v2")
	}
	addr := e.getenv("SCIMD_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "http://" + addr
	}
	return "http://" + displayAddr(addr)
}
