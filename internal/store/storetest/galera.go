package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/umeme-wallet/umeme/sql/schema"
)

// What MariaDB Galera needs of the MySQL schema and queries: only InnoDB
// tables replicate, every table needs a primary key (rows without one
// replicate slowly and may differ between nodes), and table locks,
// GET_LOCK, XA and FLUSH TABLES WITH READ LOCK are not replicated or not
// supported (a lock taken on one node is no lock on another).

// GaleraTableViolations lists the base tables of the connection's current
// database that Galera would not replicate faithfully: not InnoDB, or
// without a primary key.
func GaleraTableViolations(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT t.table_name, COALESCE(t.engine, ''),
			(SELECT COUNT(*) FROM information_schema.table_constraints c
			 WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
			   AND c.constraint_type = 'PRIMARY KEY')
		FROM information_schema.tables t
		WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'
		ORDER BY t.table_name`)
	if err != nil {
		return nil, fmt.Errorf("galera table check: %w", err)
	}
	defer rows.Close()
	var bad []string
	tables := 0
	for rows.Next() {
		var name, engine string
		var pks int
		if err := rows.Scan(&name, &engine, &pks); err != nil {
			return nil, err
		}
		tables++
		if !strings.EqualFold(engine, "InnoDB") {
			bad = append(bad, fmt.Sprintf("table %s is %s, not InnoDB", name, engine))
		}
		if pks == 0 {
			bad = append(bad, fmt.Sprintf("table %s has no primary key", name))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if tables == 0 {
		return nil, fmt.Errorf("galera table check: no tables in the current database")
	}
	return bad, nil
}

// galeraForbidden are the statements Galera cannot honour, and engines
// other than InnoDB named in DDL.
var galeraForbidden = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`(?i)\b(UN)?LOCK\s+TABLES?\b`), "LOCK TABLES (a table lock holds on one node only)"},
	{regexp.MustCompile(`(?i)\b(GET_LOCK|RELEASE_LOCK|IS_FREE_LOCK|IS_USED_LOCK)\s*\(`), "GET_LOCK (a named lock holds on one node only)"},
	{regexp.MustCompile(`(?i)\bXA\s+(START|BEGIN|END|PREPARE|COMMIT|ROLLBACK|RECOVER)\b`), "XA (not supported by Galera)"},
	{regexp.MustCompile(`(?is)\bFLUSH\s+TABLES?\b[^;]*?\bWITH\s+READ\s+LOCK\b`), "FLUSH TABLES WITH READ LOCK (blocks one node only)"},
	{regexp.MustCompile(`(?i)\bENGINE\s*=\s*(MyISAM|MEMORY|Aria|CSV|ARCHIVE|BLACKHOLE|MERGE|MRG_MyISAM)\b`), "a table that is not InnoDB (only InnoDB replicates)"},
}

// GaleraStatementViolations lists the statements of a text (SQL, or Go
// source holding SQL) that Galera cannot honour, as "name:line: why".
// Comment lines (--, #, //) are not read.
func GaleraStatementViolations(name, text string) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "--") || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//") {
			lines[i] = ""
		}
	}
	text = strings.Join(lines, "\n")
	var bad []string
	for _, f := range galeraForbidden {
		for _, m := range f.re.FindAllStringIndex(text, -1) {
			line := strings.Count(text[:m[0]], "\n") + 1
			bad = append(bad, fmt.Sprintf("%s:%d: %s", name, line, f.why))
		}
	}
	return bad
}

// GaleraSources returns the MySQL engine's migrations, queries and
// adapter source by name: everything that sends SQL to a MySQL server.
func GaleraSources(t testing.TB) map[string]string {
	t.Helper()
	texts := map[string]string{}
	err := fs.WalkDir(schema.FS, "mysql", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schema.FS, path)
		texts["sql/schema/"+path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The queries and the adapter are read from the source tree, found from
	// this file's place in it.
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("galera sources: no source path")
	}
	root := filepath.Join(filepath.Dir(self), "..", "..", "..")
	for _, dir := range []string{"sql/queries/mysql", "internal/store/mysqlstore"} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatalf("galera sources: %v", err)
		}
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || strings.HasSuffix(n, "_test.go") || !(strings.HasSuffix(n, ".sql") || strings.HasSuffix(n, ".go")) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(root, dir, n))
			if err != nil {
				t.Fatal(err)
			}
			texts[dir+"/"+n] = string(b)
		}
	}
	if len(texts) < 10 {
		t.Fatalf("galera sources: only %d files found", len(texts))
	}
	return texts
}
