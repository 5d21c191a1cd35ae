// Package links is the plugin's edge: the links it reads and the ip commands it runs, in the node's
// namespace (where the runtime runs the plugin) and in the container's (a path such as
// /var/run/netns/x or /proc/<pid>/ns/net, entered with nsenter --net=<path>). The node side takes its
// changes as one `ip -batch -`.
package links

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Link holds the attributes of a link the plugin decides on.
type Link struct {
	Name   string
	Kind   string
	Master string
	Up     bool
	MTU    int
	MAC    string
	Alias  string
}

type ipLink struct {
	Ifname   string   `json:"ifname"`
	Master   string   `json:"master"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	Address  string   `json:"address"`
	Ifalias  string   `json:"ifalias"`
	Linkinfo *struct {
		InfoKind string `json:"info_kind"`
	} `json:"linkinfo"`
}

// ParseLinks reads `ip -j -d link show` output. Pure.
func ParseLinks(out []byte) ([]Link, error) {
	var raw []ipLink
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("ip -j link show did not print a list: %w", err)
	}
	links := make([]Link, 0, len(raw))
	for _, l := range raw {
		k := Link{Name: l.Ifname, Master: l.Master, MTU: l.MTU, MAC: l.Address, Alias: l.Ifalias}
		if l.Linkinfo != nil {
			k.Kind = l.Linkinfo.InfoKind
		}
		for _, f := range l.Flags {
			if f == "UP" {
				k.Up = true
			}
		}
		links = append(links, k)
	}
	return links, nil
}

// CommandError is a command that failed: argv, exit code and the end of what it printed.
type CommandError struct {
	Argv     []string
	Stderr   string
	ExitCode int
}

func (e *CommandError) Error() string {
	lines := strings.Split(strings.TrimSpace(e.Stderr), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return fmt.Sprintf("%s failed (exit %d): %s", strings.Join(e.Argv, " "), e.ExitCode, strings.Join(lines, " | "))
}

type ran struct {
	stdout, stderr []byte
	exitCode       int
}

const timeout = 30 * time.Second

func run(argv []string, input string, allowFailure bool) (ran, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if input != "" {
		cmd.Stdin = strings.NewReader(input)
	}
	err := cmd.Run()
	r := ran{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		r.exitCode = exit.ExitCode()
	default:
		r.exitCode = -1
		if stderr.Len() == 0 {
			r.stderr = []byte(err.Error())
		}
	}
	if r.exitCode != 0 && !allowFailure {
		msg := string(r.stderr)
		if msg == "" {
			msg = string(r.stdout)
		}
		return r, &CommandError{Argv: argv, Stderr: msg, ExitCode: r.exitCode}
	}
	return r, nil
}

var noDevice = regexp.MustCompile(`(?i)does not exist|Cannot find device|No such device`)

func showLink(argv []string) (*Link, error) {
	r, _ := run(argv, "", true)
	if r.exitCode != 0 {
		if noDevice.Match(r.stderr) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %s", strings.Join(argv, " "), strings.TrimSpace(string(r.stderr)))
	}
	l, err := ParseLinks(r.stdout)
	if err != nil || len(l) == 0 {
		return nil, err
	}
	return &l[0], nil
}

// Node is the node's network namespace and the containers' namespaces, as the plugin sees them.
type Node struct{}

// HostLink is a link of the node's namespace, with details (kind, master, alias), or nil.
func (Node) HostLink(name string) (*Link, error) {
	return showLink([]string{"ip", "-j", "-d", "link", "show", "dev", name})
}

// ContainerLink is a link inside the container's namespace, or nil.
func (Node) ContainerLink(netns, name string) (*Link, error) {
	return showLink([]string{"nsenter", "--net=" + netns, "ip", "-j", "-d", "link", "show", "dev", name})
}

// BridgePorts are the links enslaved to bridge in the node's namespace.
func (Node) BridgePorts(bridge string) ([]Link, error) {
	r, _ := run([]string{"ip", "-j", "-d", "link", "show", "master", bridge}, "", true)
	if r.exitCode != 0 || len(bytes.TrimSpace(r.stdout)) == 0 {
		return nil, nil
	}
	return ParseLinks(r.stdout)
}

// NetnsExists tells whether the container's namespace path exists.
func (Node) NetnsExists(netns string) bool {
	_, err := os.Stat(netns)
	return err == nil
}

// HostBatch runs `ip -batch -` lines in the node's namespace; it stops at the first failing line.
func (Node) HostBatch(lines []string) error {
	_, err := run([]string{"ip", "-batch", "-"}, strings.Join(lines, "\n")+"\n", false)
	return err
}

// ContainerIP runs ip with args in the container's namespace.
func (Node) ContainerIP(netns string, args []string) error {
	_, err := run(append([]string{"nsenter", "--net=" + netns, "ip"}, args...), "", false)
	return err
}

// HasIPv6 tells whether the node's kernel runs IPv6 (a kernel booted with ipv6.disable=1 has no
// /proc/sys/net/ipv6, and `addrgenmode` fails there).
func (Node) HasIPv6() bool {
	_, err := os.Stat("/proc/sys/net/ipv6")
	return err == nil
}

// DeleteHostLink deletes a node-side link; true if it existed.
func (Node) DeleteHostLink(name string) (bool, error) {
	r, _ := run([]string{"ip", "link", "del", "dev", name}, "", true)
	if r.exitCode == 0 {
		return true, nil
	}
	if noDevice.Match(r.stderr) {
		return false, nil
	}
	return false, fmt.Errorf("ip link del dev %s: %s", name, strings.TrimSpace(string(r.stderr)))
}
