package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimd/scimd/internal/hostapi"
	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// openTenant opens (and migrates) the database and looks the tenant up by
// name; the caller closes the database. Errors say what went wrong.
func (e *env) openTenant(ctx context.Context, name string) (database, store.Tenant, error) {
	db, err := e.open(ctx)
	if err != nil {
		return nil, store.Tenant{}, err
	}
	t, err := tenant(ctx, db, name)
	if err != nil {
		db.Close()
		return nil, store.Tenant{}, err
	}
	return db, t, nil
}

// tenantActor is the CLI's actor for changes to one tenant.
func tenantActor(t store.Tenant) provision.Actor {
	a := cliActor
	a.TenantID = t.ID
	return a
}

// audit: scimd audit --tenant NAME [--user ID|USERNAME] [--since 1h] [--limit N] [--json]
func (e *env) audit(ctx context.Context, args []string) error {
	fs := e.flags("audit")
	tenantName := fs.String("tenant", "", "tenant name")
	user := fs.String("user", "", "only entries about this user (id or userName)")
	since := fs.String("since", "", "only entries since then: a duration back from now (1h, 7d) or an RFC 3339 time")
	limit := fs.Int("limit", 100, "most entries shown (newest first)")
	asJSON := fs.Bool("json", false, "one JSON object per line instead of a table")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *limit < 1 {
		return errors.New("--limit must be at least 1")
	}
	sinceT, err := hostapi.ParseSince(*since, time.Now())
	if err != nil {
		return fmt.Errorf("--%w", err)
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	q := store.AuditQuery{TenantID: t.ID, Since: sinceT, Limit: *limit}
	if *user != "" {
		if q.ResourceID, err = provision.New(db, nil, nil).ResolveUser(ctx, t.ID, *user); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q in tenant %s (a deleted user is found by its id)", *user, t.Name)
		} else if err != nil {
			return err
		}
	}
	es, err := db.QueryAudit(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, en := range es {
			if err := enc.Encode(hostapi.Record(en)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tOPERATION\tRESOURCE\tSTATUS\tRULE\tCHANGED\tACTOR\tCLIENT\tREQUEST")
	for _, en := range es {
		res := en.ResourceType
		if en.ResourceID != "" {
			res += " " + en.ResourceID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", en.At.UTC().Format(time.RFC3339), en.Operation, dash(res),
			en.Status, dash(en.Rule), dash(strings.Join(en.Changed, ",")), dash(en.Actor), dash(en.Client), dash(en.RequestID))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *env) webhookAdd(ctx context.Context, args []string) error {
	fs := e.flags("webhook add")
	tenantName := fs.String("tenant", "", "tenant name")
	url := fs.String("url", "", "the receiver's URL (https://…)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("webhook add needs --url URL")
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, w, err := provision.New(db, nil, nil).CreateWebhook(ctx, tenantActor(t), *url)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("tenant %s already has a webhook for %s", t.Name, *url)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, secret)
	fmt.Fprintf(e.stderr, "webhook %s for tenant %s created; the signing secret above is shown only now "+
		"(docs/events.md: verifying a delivery)\n", w.ID, t.Name)
	return nil
}

func (e *env) webhookList(ctx context.Context, args []string) error {
	fs := e.flags("webhook list")
	tenantName := fs.String("tenant", "", "tenant name")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	ws, err := db.ListWebhooks(ctx, t.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tCREATED")
	for _, w := range ws {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", w.ID, w.URL, w.Created.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func (e *env) webhookRemove(ctx context.Context, args []string) error {
	fs := e.flags("webhook remove")
	tenantName := fs.String("tenant", "", "tenant name")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	err = provision.New(db, nil, nil).DeleteWebhook(ctx, tenantActor(t), pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("tenant %s has no webhook %q (scimd webhook list --tenant %s)", t.Name, pos[0], t.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "webhook %s removed with its pending deliveries\n", pos[0])
	return nil
}

// events: scimd events --tenant NAME [--dead] [--limit N] | scimd events retry --tenant NAME EVENT_ID
func (e *env) events(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "retry" {
		return e.eventsRetry(ctx, args[1:])
	}
	fs := e.flags("events")
	tenantName := fs.String("tenant", "", "tenant name")
	dead := fs.Bool("dead", false, "only dead deliveries (every attempt failed)")
	limit := fs.Int("limit", 50, "most deliveries shown (newest event first)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	state := ""
	if *dead {
		state = store.DeliveryDead
	}
	ds, err := db.ListDeliveries(ctx, t.ID, state, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tTYPE\tRESOURCE\tAT\tSTATE\tATTEMPTS\tLAST\tWEBHOOK")
	for _, d := range ds {
		last := "-"
		switch {
		case d.LastError != "":
			last = d.LastError
		case d.LastStatus != 0:
			last = fmt.Sprintf("HTTP %d", d.LastStatus)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%d\t%s\t%s\n", d.Event.ID, d.Event.Type, d.Event.ResourceType, d.Event.ResourceID,
			d.Event.At.UTC().Format(time.RFC3339), d.State, d.Attempts, last, d.URL)
	}
	return tw.Flush()
}

func (e *env) eventsRetry(ctx context.Context, args []string) error {
	fs := e.flags("events retry")
	tenantName := fs.String("tenant", "", "tenant name")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	db, t, err := e.openTenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := provision.New(db, nil, nil).RetryEvent(ctx, tenantActor(t), pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("event %q of tenant %s has no dead delivery (scimd events --tenant %s --dead)", pos[0], t.Name, t.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "event %s queued again for %d webhook(s)\n", pos[0], n)
	return nil
}
