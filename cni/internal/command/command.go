// Package command runs one invocation of vxmesh's CNI plugin: the CNI environment and stdin in, what to
// print on stdout and the exit code out (the result for ADD and VERSION, an error object on failure).
package command

import (
	"encoding/json"

	"vxmesh.io/cni/internal/cnienv"
	"vxmesh.io/cni/internal/config"
	"vxmesh.io/cni/internal/jsonx"
	"vxmesh.io/cni/internal/plugin"
	"vxmesh.io/cni/internal/spec"
)

// Run runs one invocation against node; stdout is what to print (without the newline), code the exit code.
func Run(node plugin.Node, getenv func(string) string, stdin string) (stdout string, code int) {
	out, err := dispatch(node, getenv, stdin)
	if err == nil {
		return out, 0
	}
	v, ok := config.Version(stdin)
	if !ok || !spec.IsSupportedVersion(v) {
		v = spec.LatestVersion
	}
	s, _ := jsonx.Stringify(spec.ErrorObject(err, v))
	return s, 1
}

func needs11(conf *config.NetConf, what string) error {
	if spec.CompareVersions(conf.CNIVersion, "1.1.0") < 0 {
		return spec.Errorf(spec.IncompatibleVersion, what+" needs cniVersion 1.1.0 or later (got "+conf.CNIVersion+")")
	}
	return nil
}

func dispatch(node plugin.Node, getenv func(string) string, stdin string) (string, error) {
	env, err := cnienv.Parse(getenv)
	if err != nil {
		return "", err
	}
	if env.Command == "VERSION" {
		return jsonx.Stringify(plugin.Versions())
	}
	conf, err := config.Parse(stdin)
	if err != nil {
		return "", err
	}
	switch env.Command {
	case "ADD":
		r, err := plugin.Add(node, conf, env)
		if err != nil {
			return "", err
		}
		return jsonx.Stringify(r)
	case "DEL":
		return "", plugin.Del(node, conf, env)
	case "CHECK":
		return "", plugin.Check(node, conf, env)
	case "STATUS":
		if err := needs11(conf, "STATUS"); err != nil {
			return "", err
		}
		return "", plugin.Status(node, conf)
	case "GC":
		if err := needs11(conf, "GC"); err != nil {
			return "", err
		}
		var raw any
		_ = json.Unmarshal([]byte(stdin), &raw) // Parse decoded it already
		_, err := plugin.GC(node, conf, plugin.ValidAttachments(raw))
		return "", err
	}
	return "", nil
}
