package store_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// TestGuardCoversStore fails when a method of store.Store has no guarded
// method of its own (it would pass through the embedded Store unbounded and
// unclassified): run "go generate ./store".
func TestGuardCoversStore(t *testing.T) {
	fset := token.NewFileSet()
	own := map[string]bool{}
	for _, file := range []string{"guard.go", "guard_gen.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil {
				continue
			}
			if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
				if id, ok := star.X.(*ast.Ident); ok && id.Name == "Guarded" {
					own[fd.Name.Name] = true
				}
			}
		}
	}
	it := reflect.TypeFor[store.Store]()
	for i := range it.NumMethod() {
		if m := it.Method(i).Name; !own[m] {
			t.Errorf("store.Guarded has no method %s of its own; run go generate ./store", m)
		}
	}
}

// fakeStore answers GetUser with err after delay (or when ctx ends).
type fakeStore struct {
	store.Store
	err   error
	delay time.Duration
}

func (f fakeStore) GetUser(ctx context.Context, _, _ string) (store.User, error) {
	select {
	case <-time.After(f.delay):
		return store.User{}, f.err
	case <-ctx.Done():
		return store.User{}, ctx.Err()
	}
}

func TestGuardClassifies(t *testing.T) {
	errDown := errors.New("connection refused")
	down := func(err error) bool { return errors.Is(err, errDown) }
	ctx := context.Background()

	// A recognised error is ErrUnavailable and keeps its cause.
	g := store.Guard(fakeStore{err: errDown}, down, time.Second)
	_, err := g.GetUser(ctx, "t", "u")
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, errDown) {
		t.Fatalf("refused: %v", err)
	}

	// Other errors pass unchanged.
	g = store.Guard(fakeStore{err: store.ErrNotFound}, down, time.Second)
	if _, err := g.GetUser(ctx, "t", "u"); err != store.ErrNotFound {
		t.Fatalf("not found: %v", err)
	}

	// A call that outlives the guard's deadline is ErrUnavailable.
	g = store.Guard(fakeStore{delay: time.Hour}, down, 50*time.Millisecond)
	_, err = g.GetUser(ctx, "t", "u")
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent: %v", err)
	}

	// The caller giving up is not the database failing.
	g = store.Guard(fakeStore{delay: time.Hour, err: errDown}, down, time.Hour)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = g.GetUser(cctx, "t", "u")
	if errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("caller canceled: %v", err)
	}
}
