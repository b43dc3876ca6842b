package main

import (
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// There is no Docker engine on the development and CI machines, so these tests read docker-compose.yml and the
// Dockerfile instead of running them: the services and their wiring, and that the worker's configuration, exactly
// as the compose file sets it, loads.

// composeFile is the part of docker-compose.yml the tests read. The file writes entrypoint, command and
// healthcheck.test as lists and environment as a map; another form fails to decode here, on purpose.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Build       *composeBuild                `yaml:"build"`
	Entrypoint  []string                     `yaml:"entrypoint"`
	Command     []string                     `yaml:"command"`
	Environment map[string]string            `yaml:"environment"`
	Ports       []string                     `yaml:"ports"`
	Volumes     []string                     `yaml:"volumes"`
	DependsOn   map[string]composeDependency `yaml:"depends_on"`
	Healthcheck *composeHealthcheck          `yaml:"healthcheck"`
}

type composeBuild struct {
	Context string `yaml:"context"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test []string `yaml:"test"`
}

// Service names, as the worker's URLs use them.
const (
	composeRedis  = "redis"
	composeNATS   = "nats"
	composeKeygen = "keygen"
	composeSim    = "docusign-sim"
	composeWorker = "worker"
)

func mustLoadCompose(tb testing.TB) composeFile {
	tb.Helper()
	data, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(tb, err)
	var f composeFile
	require.NoError(tb, yaml.Unmarshal(data, &f))
	return f
}

// containerPorts lists the container ports a service publishes ("[host_ip:]host:container[/proto]").
func containerPorts(tb testing.TB, s composeService) []string {
	tb.Helper()
	var out []string
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		require.GreaterOrEqual(tb, len(parts), 2, "port %q publishes nothing on the host", p)
		out = append(out, strings.TrimSuffix(parts[len(parts)-1], "/tcp"))
	}
	return out
}

// argValues reads "-name=value" and "-name value" arguments into name → values.
func argValues(args []string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "-")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			out[n] = append(out[n], v)
			continue
		}
		v := ""
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			v = args[i+1]
			i++
		}
		out[name] = append(out[name], v)
	}
	return out
}

// healthURL is the URL a health check command (wget or curl) fetches.
func healthURL(tb testing.TB, hc *composeHealthcheck) *url.URL {
	tb.Helper()
	require.NotNil(tb, hc)
	for _, a := range hc.Test {
		if strings.HasPrefix(a, "http://") {
			u, err := url.Parse(a)
			require.NoError(tb, err)
			return u
		}
	}
	tb.Fatalf("health check %q fetches no http:// URL", hc.Test)
	return nil
}

func TestComposeServices(t *testing.T) {
	t.Parallel()
	f := mustLoadCompose(t)

	require.ElementsMatch(t, []string{composeRedis, composeNATS, composeKeygen, composeSim, composeWorker},
		slices.Collect(maps.Keys(f.Services)))
	for name, s := range f.Services {
		if name == composeKeygen {
			require.Nil(t, s.Healthcheck, "keygen is a one-shot job")
			continue
		}
		require.NotNil(t, s.Healthcheck, "%s has no health check", name)
		require.NotEmpty(t, s.Healthcheck.Test, name)
		require.Contains(t, []string{"CMD", "CMD-SHELL"}, s.Healthcheck.Test[0], name)
		for dep, d := range s.DependsOn {
			require.Contains(t, f.Services, dep, "%s depends on an unknown service", name)
			want := "service_healthy"
			if dep == composeKeygen {
				want = "service_completed_successfully"
			}
			require.Equal(t, want, d.Condition, "%s depends on %s", name, dep)
		}
	}
	for _, s := range f.Services {
		for _, v := range s.Volumes {
			if src, _, ok := strings.Cut(v, ":"); ok && !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				require.Contains(t, f.Volumes, src, "named volume %s is not declared", src)
			}
		}
	}

	redis := f.Services[composeRedis]
	require.Regexp(t, `^redis:7\b`, redis.Image)
	cmd := strings.Join(redis.Command, " ")
	require.Contains(t, cmd, "--appendonly yes")
	require.Contains(t, cmd, "--maxmemory-policy noeviction")
	require.Contains(t, strings.Join(redis.Volumes, " "), ":/data")
	require.Contains(t, strings.Join(redis.Healthcheck.Test, " "), "redis-cli ping")

	nats := f.Services[composeNATS]
	require.Regexp(t, `^nats:2\.(1\d|[2-9]\d)`, nats.Image, "JetStream as the worker uses it needs nats-server 2.10 or later")
	args := argValues(nats.Command)
	require.Contains(t, args, "js")
	require.Equal(t, []string{"/data"}, args["sd"])
	require.Equal(t, []string{"8222"}, args["m"])
	require.Contains(t, strings.Join(nats.Volumes, " "), ":/data")
	u := healthURL(t, nats.Healthcheck)
	require.Equal(t, "8222", u.Port())
	require.Equal(t, "/healthz", u.Path)
	require.Contains(t, containerPorts(t, nats), "4222")

	worker := f.Services[composeWorker]
	require.Contains(t, containerPorts(t, worker), "8080")
	for _, dep := range []string{composeRedis, composeNATS, composeSim} {
		require.Contains(t, worker.DependsOn, dep)
	}
	require.Contains(t, f.Services[composeSim].DependsOn, composeKeygen)
}

func TestComposeWorkerEnvironment(t *testing.T) {
	t.Parallel()
	f := mustLoadCompose(t)
	env := f.Services[composeWorker].Environment
	require.NotEmpty(t, env)

	known := map[string]bool{}
	for _, s := range settings() {
		known[s.env] = true
	}
	for k, v := range env {
		require.True(t, known[k], "docker-compose.yml sets %s, which the worker does not read", k)
		require.NotContains(t, v, "${", "%s: the test does not interpolate", k)
	}

	// The key file is written by the keygen service into the keys volume, which does not exist here; load the
	// configuration with a generated key in its place (the loader reads and parses the file). Every other value is
	// the compose file's own.
	keyFile := env["WORKER_DOCUSIGN_PRIVATE_KEY_FILE"]
	require.Equal(t, "/keys/private.pem", keyFile)
	keys, err := keyPair()
	require.NoError(t, err)
	local := filepath.Join(t.TempDir(), "private.pem")
	require.NoError(t, os.WriteFile(local, keys[0], 0o600))
	loadEnv := maps.Clone(env)
	loadEnv["WORKER_DOCUSIGN_PRIVATE_KEY_FILE"] = local

	// Flags are empty: the worker runs with its environment only, so a successful load proves every required
	// setting is there.
	c, err := loadConfig(nil, getenvFrom(loadEnv))
	require.NoError(t, err)

	require.Equal(t, "nats://"+composeNATS+":4222", c.NATSURL, "external NATS, not the embedded server")
	require.Equal(t, composeRedis+":6379", c.redisOptions.Addr)
	require.Equal(t, docusignsim.DemoIntegrationKey, c.DocuSignIntegrationKey)
	require.Equal(t, docusignsim.DemoAdminUserID, c.DocuSignUserID)
	require.Equal(t, docusignsim.DemoOrganizationID, c.DocuSignOrganizationID)
	require.ElementsMatch(t, []string{docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU}, c.DocuSignAccounts)

	// The worker's health check asks /readyz on WORKER_HTTP_ADDR's port, which is the one published.
	_, port, err := net.SplitHostPort(c.HTTPAddr)
	require.NoError(t, err)
	u := healthURL(t, f.Services[composeWorker].Healthcheck)
	require.Equal(t, port, u.Port())
	require.Equal(t, "/readyz", u.Path)
	require.Contains(t, containerPorts(t, f.Services[composeWorker]), port)
}

// TestComposeSimulatorWiring checks that the worker can follow every URL the simulator publishes: each listener
// binds all interfaces on a fixed port and -advertise-host names the simulator's service, which is the host of the
// worker's auth and Admin URLs; and that the key pair goes from keygen to the simulator and the worker.
func TestComposeSimulatorWiring(t *testing.T) {
	t.Parallel()
	f := mustLoadCompose(t)
	sim := f.Services[composeSim]
	args := argValues(sim.Command)

	// Every flag used is one the simulator defines.
	var src strings.Builder
	files, err := filepath.Glob("../docusign-sim/*.go")
	require.NoError(t, err)
	for _, file := range files {
		if !strings.HasSuffix(file, "_test.go") {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			src.Write(data)
		}
	}
	for name := range args {
		defined := regexp.MustCompile(`fs\.\w+\([^,]*, "` + regexp.QuoteMeta(name) + `"`).MatchString(src.String())
		require.True(t, defined, "docusign-sim has no flag -%s (cmd/docusign-sim/run.go)", name)
	}

	require.Equal(t, []string{composeSim}, args["advertise-host"])
	port := func(flag, addr string) string {
		host, p, err := net.SplitHostPort(addr)
		require.NoError(t, err, "-%s %q", flag, addr)
		require.Contains(t, []string{"", "0.0.0.0", "::"}, host, "-%s %q: unreachable from other containers", flag, addr)
		require.NotEqual(t, "0", p, "-%s %q: a fixed port, so that the other services can be configured with it", flag, addr)
		return p
	}
	one := func(flag string) string {
		require.Len(t, args[flag], 1, "-%s", flag)
		return port(flag, args[flag][0])
	}
	authPort, adminPort, controlPort := one("auth-addr"), one("admin-addr"), one("control-addr")

	seed, err := docusignsim.DefaultSeed()
	require.NoError(t, err)
	envs := map[string]string{}
	for _, kv := range args["env-addr"] {
		name, addr, ok := strings.Cut(kv, "=")
		require.True(t, ok, "-env-addr %q", kv)
		envs[name] = port("env-addr", addr)
	}
	require.ElementsMatch(t, seed.Environments, slices.Collect(maps.Keys(envs)), "every environment of the seed needs an -env-addr")
	require.Empty(t, args["seed"], "the worker's accounts are the shipped demo seed's")

	env := f.Services[composeWorker].Environment
	require.Equal(t, "http://"+net.JoinHostPort(composeSim, authPort), env["WORKER_DOCUSIGN_AUTH_URL"])
	require.Equal(t, "http://"+net.JoinHostPort(composeSim, adminPort)+"/management", env["WORKER_DOCUSIGN_ADMIN_URL"])
	u := healthURL(t, sim.Healthcheck)
	require.Equal(t, controlPort, u.Port())
	require.True(t, strings.HasPrefix(u.Path, "/_sim/"), u.Path)

	// keygen writes the pair into the keys volume; the simulator trusts its public half, the worker signs with
	// the private half.
	keygen := strings.Join(append(slices.Clone(f.Services[composeKeygen].Entrypoint), f.Services[composeKeygen].Command...), " ")
	require.Contains(t, keygen, "docusign-sim -gen-key /keys")
	require.Equal(t, []string{"/keys/public.pem"}, args["public-key"])
	require.Equal(t, "/keys/private.pem", env["WORKER_DOCUSIGN_PRIVATE_KEY_FILE"])
	for _, name := range []string{composeKeygen, composeSim, composeWorker} {
		mounts := strings.Join(f.Services[name].Volumes, " ")
		require.Regexp(t, `(^| )keys:/keys(:ro)?( |$)`, mounts, "%s must mount the keys volume on /keys", name)
	}
}

// TestComposeDockerfile checks that the image the compose file builds holds the commands it runs.
func TestComposeDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	// Join continuation lines into instructions.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(data), " ")
	var froms, runs, copies []string
	var entrypoint []string
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			froms = append(froms, rest)
		case "RUN":
			runs = append(runs, rest)
		case "COPY":
			copies = append(copies, rest)
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(rest), &entrypoint), "ENTRYPOINT in exec form")
		case "USER":
			require.NotRegexp(t, `^(0|root)\b`, rest, "the image runs as a non-root user")
		}
	}
	require.GreaterOrEqual(t, len(froms), 2, "a multi-stage build")
	require.Contains(t, froms[0], " AS build")

	// The build stage builds every command under cmd/ into /out; the last stage copies them onto the PATH.
	var build string
	for _, r := range runs {
		if strings.Contains(r, "go build") {
			build = r
		}
	}
	require.NotEmpty(t, build, "no go build in the Dockerfile")
	require.Regexp(t, `go build .*-o /out/ \./cmd/\.\.\.$`, build)
	require.Contains(t, build, "CGO_ENABLED=0", "the binaries run in a runtime image without Go")
	require.Contains(t, copies, "--from=build /out/ /usr/local/bin/")
	require.Equal(t, []string{"worker"}, entrypoint)

	// Each service built from the Dockerfile runs one of those commands (directly, or in keygen's shell line).
	f := mustLoadCompose(t)
	images := map[string]bool{}
	for name, s := range f.Services {
		if s.Build == nil {
			continue
		}
		require.Equal(t, ".", s.Build.Context, name)
		images[s.Image] = true
		command := s.Entrypoint
		if len(command) > 0 && (command[0] == "/bin/sh" || command[0] == "sh") {
			command = strings.Fields(strings.Join(s.Command, " "))
			command = command[slices.Index(command, "exec")+1:]
		}
		require.NotEmpty(t, command, "%s: name the command in entrypoint", name)
		bin := path.Base(command[0])
		_, err := os.Stat(filepath.Join("..", bin, "main.go"))
		require.NoError(t, err, "%s runs %s, which is not a command under cmd/", name, bin)
	}
	require.Len(t, images, 1, "the services built from the Dockerfile share one image")
}
