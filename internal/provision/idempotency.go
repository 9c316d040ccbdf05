package provision

import (
	"context"

	"github.com/scimd/scimd/store"
)

type idemKeyCtx struct{}

// WithIdempotencyKey returns ctx carrying k, the Idempotency-Key of the
// request ctx belongs to (TenantID, Key, Fingerprint, Created and Expires
// set). CreateUser and CreateGroup given such a context record k — State
// store.IdempotencyDone, Status 201, the type and id of what they created
// — in the create's own transaction, before its other writes, so that
// the key commits exactly when the create does and a concurrent create
// with the same key waits for it. A live key of the tenant makes the
// create roll back and return store.ErrKeyInUse.
func WithIdempotencyKey(ctx context.Context, k store.IdempotencyKey) context.Context {
	return context.WithValue(ctx, idemKeyCtx{}, k)
}

// IdempotencyKeyOf returns the Idempotency-Key WithIdempotencyKey put in
// ctx; ok is false when there is none.
func IdempotencyKeyOf(ctx context.Context) (k store.IdempotencyKey, ok bool) {
	k, ok = ctx.Value(idemKeyCtx{}).(store.IdempotencyKey)
	return k, ok
}

// putKey records the context's Idempotency-Key, if any, for the resource
// of type rtype and id a create is writing in tx. Errors are
// PutIdempotencyKey's (store.ErrKeyInUse for a live key).
func putKey(ctx context.Context, tx store.Tx, rtype, id string) error {
	k, ok := IdempotencyKeyOf(ctx)
	if !ok {
		return nil
	}
	k.State, k.Status, k.ResourceType, k.ResourceID, k.Response = store.IdempotencyDone, 201, rtype, id, nil
	return tx.PutIdempotencyKey(ctx, &k)
}

// MarkReplayed notes that the request ctx belongs to was answered with the
// recorded outcome of an earlier request with the same Idempotency-Key:
// that request left the audit entry (and the event) of the change, so the
// layer that answers adds none for the replay (see AuditMark). Without a
// mark in ctx it does nothing.
func MarkReplayed(ctx context.Context) {
	if m := markOf(ctx); m != nil {
		m.recorded.Store(true)
		m.refused.Store(true)
	}
}
