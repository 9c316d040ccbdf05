package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/provision"
	"github.com/scimd/scimd/store"
)

// tenantResume is `scimd tenant resume NAME`: it releases the tenant's
// mass-deprovisioning brake and starts a fresh window.
func (e *env) tenantResume(ctx context.Context, args []string) error {
	pos, err := parse(e.flags("tenant resume"), args, 1)
	if err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := provision.New(db, nil, nil).ResumeDeprovisioning(ctx, cliActor, pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no tenant named %q (scimd tenant list shows them)", pos[0])
	}
	if err != nil {
		return err
	}
	if p := res.Pause; p != nil {
		fmt.Fprintf(e.stdout, "tenant %s: deactivations and deletions resumed; they were paused since %s, when %d within %d minutes exceeded the limit of %d.\n",
			res.Tenant.Name, p.At.UTC().Format(time.RFC3339), p.Count, p.WindowMinutes, p.Limit)
	} else {
		fmt.Fprintf(e.stdout, "tenant %s: deactivations and deletions were not paused.\n", res.Tenant.Name)
	}
	fmt.Fprintf(e.stdout, "The window starts afresh at %s: the %d deactivation(s) and deletion(s) before it no longer count.\n",
		res.At.UTC().Format(time.RFC3339), res.Forgotten)
	return nil
}

// brakeStatus is the "deprovisioning" part of `scimd tenant show`.
func brakeStatus(b store.Brake) map[string]any {
	out := map[string]any{"paused": b.Paused != nil}
	if p := b.Paused; p != nil {
		out["pausedAt"] = p.At.UTC().Format(time.RFC3339)
		out["count"], out["limit"], out["windowMinutes"] = p.Count, p.Limit, p.WindowMinutes
		out["activeUsers"], out["percent"] = p.ActiveUsers, p.Percent
	}
	if b.Resumed != nil {
		out["resumedAt"] = b.Resumed.UTC().Format(time.RFC3339)
	}
	return out
}
