package postgres

import "context"

// Analyze refreshes the planner statistics of the tables a bulk load
// grows. scimd expects autovacuum to do this; a long import calls it as
// the directory grows, so that plans made while the tenant was small (a
// sequential scan behind every foreign-key check, say) are replaced before
// autovacuum gets round to it. Errors are the driver's.
func (s *Store) Analyze(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `ANALYZE users, user_emails, groups, group_members, audit, outbox, deliveries`)
	return err
}
