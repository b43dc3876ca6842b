package openapi

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindSpecDir(t *testing.T) {
	t.Parallel()
	// tmp/repo/go.mod, tmp/repo/a/b (working directory), tmp/shared/docusign-openapi
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	wd := filepath.Join(repo, "a", "b")
	shared := filepath.Join(tmp, "shared", "docusign-openapi")
	require.NoError(t, os.MkdirAll(wd, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o600))
	noEnv := func(string) string { return "" }
	other := t.TempDir()

	for _, tt := range []struct {
		name    string
		getenv  func(string) string
		wd      string
		shared  bool
		want    string
		wantErr bool
	}{
		{name: "beside the module root", getenv: noEnv, wd: wd, shared: true, want: shared},
		{name: "shared missing", getenv: noEnv, wd: wd, wantErr: true},
		{name: "no go.mod above", getenv: noEnv, wd: other, shared: true, wantErr: true},
		{name: "env wins", getenv: func(k string) string { return map[string]string{SpecDirEnv: other}[k] },
			wd: wd, shared: true, want: other},
		{name: "env names a missing directory", getenv: func(string) string { return filepath.Join(other, "nope") },
			wd: wd, shared: true, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share the shared/ directory they create and remove.
			if tt.shared {
				require.NoError(t, os.MkdirAll(shared, 0o755))
			} else {
				require.NoError(t, os.RemoveAll(filepath.Dir(shared)))
			}
			got, err := findSpecDir(tt.getenv, tt.wd)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrSpecDirNotFound)
				require.ErrorContains(t, err, SpecDirEnv)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestEmbeddedSpecsMatchShared: the embedded copies are DocuSign's files unchanged (checked when the shared
// directory is present) and load on their own.
func TestEmbeddedSpecsMatchShared(t *testing.T) {
	t.Parallel()
	for _, name := range []string{AdminSpecFile, ESignatureSpecFile} {
		f, err := embeddedSpecs.Open("specs/" + name + ".gz")
		require.NoError(t, err)
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		embedded, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		viaFile, err := DocuSignSpecFile(name)
		require.NoError(t, err)
		require.Equal(t, embedded, viaFile)
		spec, err := Parse(embedded)
		require.NoError(t, err)
		require.NotNil(t, spec)
		if dir, err := FindSpecDir(); err == nil {
			shared, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			require.Equal(t, shared, embedded, "%s differs from %s", name, dir)
		}
	}
}
