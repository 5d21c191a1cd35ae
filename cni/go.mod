module vxmesh.io/cni

go 1.22
