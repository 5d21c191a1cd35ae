// Command vxmesh-cni is vxmesh's CNI plugin (type "vxmesh-cni"): the runtime (Multus) runs it from the
// node's CNI bin dir with the CNI environment and the network configuration on stdin.
package main

import (
	"io"
	"os"

	"vxmesh.io/cni/internal/command"
	"vxmesh.io/cni/internal/links"
)

func main() {
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		stdin = nil
	}
	out, code := command.Run(links.Node{}, os.Getenv, string(stdin))
	if out != "" {
		_, _ = os.Stdout.WriteString(out + "\n")
	}
	os.Exit(code)
}
