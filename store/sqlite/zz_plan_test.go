package sqlite

import (
	"fmt"
	"testing"
)

func TestZZPlan(t *testing.T) {
	s := openTestStore(t)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT u.id AS pid FROM users u WHERE u.tenant_id = 'x' AND u.state <> 'deleted' AND (1) ORDER BY u.id ASC LIMIT 10 OFFSET 5`,
		`SELECT ` + userCols + `, NULL AS sort_key FROM (SELECT u.id AS pid FROM users u INDEXED BY users_live WHERE u.tenant_id = 'x' AND u.state <> 'deleted' AND (1) ORDER BY u.id ASC LIMIT 10 OFFSET 5) AS k CROSS JOIN users u ON u.tenant_id = 'x' AND u.id = k.pid ORDER BY u.id ASC`,
		`SELECT ` + userCols + `, NULL AS sort_key FROM (SELECT u.id AS pid FROM users u INDEXED BY users_live WHERE u.tenant_id = 'x' AND u.state <> 'deleted' AND (1) ORDER BY u.id DESC LIMIT 10 OFFSET 5) AS k CROSS JOIN users u ON u.tenant_id = 'x' AND u.id = k.pid ORDER BY u.id DESC`,
		`SELECT g.id FROM groups g WHERE g.tenant_id = 'x' AND 1 AND (1) ORDER BY g.id ASC LIMIT 10 OFFSET 5`,
		`SELECT ` + userCols + `, u.user_name_key FROM users u WHERE u.tenant_id = 'x' AND u.state <> 'deleted' AND (1) AND ((u.user_name_key, u.id) < ('a', 'b')) ORDER BY u.user_name_key DESC NULLS FIRST, u.id DESC LIMIT 10`,
	} {
		rows, err := s.r.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b, c int
			var d string
			rows.Scan(&a, &b, &c, &d)
			fmt.Println(a, b, d)
		}
		fmt.Println("--")
	}
}
