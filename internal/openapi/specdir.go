package openapi

import (
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrSpecDirNotFound means the directory holding DocuSign's OpenAPI files was
// not found; tests skip on it (or fail when integration tests are required).
var ErrSpecDirNotFound = errors.New("openapi: DocuSign OpenAPI directory not found")

// File names of DocuSign's OpenAPI documents inside the spec directory.
const (
	AdminSpecFile      = "admin.rest.swagger-v2.1.json"
	ESignatureSpecFile = "esignature.rest.swagger-v2.1.json"
)

// URL path prefixes under which the DocuSign APIs are served.
const (
	AdminPrefix      = "/management"
	ESignaturePrefix = "/restapi"
)

// SpecDirEnv names the environment variable that overrides the spec directory.
const SpecDirEnv = "DOCUSIGN_OPENAPI_DIR"

// FindSpecDir returns the directory holding DocuSign's OpenAPI files: the
// value of DOCUSIGN_OPENAPI_DIR when set, otherwise ../shared/docusign-openapi
// relative to the module root (the nearest directory above the working
// directory that holds go.mod). The error wraps [ErrSpecDirNotFound] when the
// directory does not exist.
func FindSpecDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("openapi: %w", err)
	}
	return findSpecDir(os.Getenv, wd)
}

// findSpecDir is FindSpecDir with the environment and working directory
// passed in.
func findSpecDir(getenv func(string) string, wd string) (string, error) {
	if dir := getenv(SpecDirEnv); dir != "" {
		if !isDir(dir) {
			return "", fmt.Errorf("%w: %s=%s is not a directory", ErrSpecDirNotFound, SpecDirEnv, dir)
		}
		return dir, nil
	}
	root := wd
	for !isFile(filepath.Join(root, "go.mod")) {
		parent := filepath.Dir(root)
		if parent == root {
			return "", fmt.Errorf("%w: no go.mod above %s; set %s", ErrSpecDirNotFound, wd, SpecDirEnv)
		}
		root = parent
	}
	dir := filepath.Clean(filepath.Join(root, "..", "shared", "docusign-openapi"))
	if !isDir(dir) {
		return "", fmt.Errorf("%w: %s does not exist; put the shared files beside the repository or set %s",
			ErrSpecDirNotFound, dir, SpecDirEnv)
	}
	return dir, nil
}

// LoadDocuSignSpecs loads the Admin and eSignature documents from dir and
// returns them keyed by the prefix they are served under, ready for
// [NewValidatingTransport]: {AdminPrefix: admin, ESignaturePrefix: esignature}.
func LoadDocuSignSpecs(dir string) (map[string]*Spec, error) {
	admin, err := Load(filepath.Join(dir, AdminSpecFile))
	if err != nil {
		return nil, err
	}
	esign, err := Load(filepath.Join(dir, ESignatureSpecFile))
	if err != nil {
		return nil, err
	}
	return map[string]*Spec{AdminPrefix: admin, ESignaturePrefix: esign}, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// embeddedSpecs are gzip copies of DocuSign's OpenAPI files (github.com/docusign/OpenAPI-Specifications, MIT
// licence; see specs/README.md), used when the shared directory is not beside the repository, e.g. in CI.
//
//go:embed specs/*.json.gz
var embeddedSpecs embed.FS

// DocuSignSpecFile returns the bytes of one of DocuSign's OpenAPI files (AdminSpecFile, ESignatureSpecFile): from
// FindSpecDir's directory when there is one, else the copy embedded in this package.
func DocuSignSpecFile(name string) ([]byte, error) {
	dir, err := FindSpecDir()
	switch {
	case err == nil:
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		return data, nil
	case !errors.Is(err, ErrSpecDirNotFound):
		return nil, err
	}
	f, err := embeddedSpecs.Open("specs/" + name + ".gz")
	if err != nil {
		return nil, fmt.Errorf("openapi: embedded %s: %w", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("openapi: embedded %s: %w", name, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("openapi: embedded %s: %w", name, err)
	}
	return data, nil
}

// DocuSignSpecs loads DocuSign's Admin and eSignature documents keyed by the prefix they are served under (see
// LoadDocuSignSpecs), from FindSpecDir's directory when there is one, else from the copies embedded in this
// package.
func DocuSignSpecs() (map[string]*Spec, error) {
	specs := map[string]*Spec{}
	for prefix, name := range map[string]string{AdminPrefix: AdminSpecFile, ESignaturePrefix: ESignatureSpecFile} {
		data, err := DocuSignSpecFile(name)
		if err != nil {
			return nil, err
		}
		if specs[prefix], err = Parse(data); err != nil {
			return nil, err
		}
	}
	return specs, nil
}
