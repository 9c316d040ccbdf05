package store

import (
	"context"
	"fmt"
	"sync"
)

// SecretCache keeps one named secret of a Store (Store.Secret) after the
// first read, for a process that signs with it on every request. Its zero
// value is ready to use; it is safe for concurrent use.
type SecretCache struct {
	mu  sync.Mutex
	key []byte
}

// Get returns the secret called name, reading (or creating) it in s the
// first time. A secret shorter than 16 bytes is an error, and so are the
// store's; a failed read is tried again on the next call.
func (c *SecretCache) Get(ctx context.Context, s Store, name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key == nil {
		key, err := s.Secret(ctx, name)
		if err != nil {
			return nil, err
		}
		if len(key) < 16 {
			return nil, fmt.Errorf("store: secret %s of %d bytes", name, len(key))
		}
		c.key = key
	}
	return c.key, nil
}
