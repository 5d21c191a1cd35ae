// Package spec holds what the CNI specification (1.1, containernetworking/cni SPEC.md) fixes for every
// plugin: the versions vxmesh's plugin speaks, the well-known error codes and the error object a failing
// plugin prints on stdout ({cniVersion, code, msg, details}, non-zero exit). Pure.
package spec

import (
	"errors"
	"strconv"
	"strings"
)

// SupportedVersions are the versions whose configuration and result format the plugin handles
// (CHECK from 0.4.0, STATUS and GC from 1.1.0).
var SupportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// LatestVersion is the newest version the plugin speaks.
const LatestVersion = "1.1.0"

// Well-known codes (SPEC.md "Error"): 1-99 are reserved by the spec, 100+ are the plugin's.
const (
	IncompatibleVersion = 1
	UnsupportedField    = 2
	UnknownContainer    = 3
	InvalidEnv          = 4
	IOFailure           = 5
	DecodeFailure       = 6
	InvalidConfig       = 7
	TryAgainLater       = 11
	// NotAvailable is STATUS's "cannot serve ADDs now".
	NotAvailable = 50
	// UnknownVMI: the pod is not a KubeVirt launcher pod whose VMI the plugin can name (package binding).
	UnknownVMI = 100
	// CheckFailed: CHECK found the attachment differing from what ADD made.
	CheckFailed = 101
)

// Error is a failure with a CNI code, printed as the error object.
type Error struct {
	Code    int
	Msg     string
	Details string
}

func (e *Error) Error() string { return e.Msg }

// Errorf is an *Error without details.
func Errorf(code int, msg string) *Error { return &Error{Code: code, Msg: msg} }

// ErrorJSON is the error object of SPEC.md "Error".
type ErrorJSON struct {
	CNIVersion string `json:"cniVersion"`
	Code       int    `json:"code"`
	Msg        string `json:"msg"`
	Details    string `json:"details,omitempty"`
}

// ErrorObject is the error object for err; anything not an *Error is an I/O failure with its message as details.
func ErrorObject(err error, cniVersion string) ErrorJSON {
	var e *Error
	if errors.As(err, &e) {
		return ErrorJSON{CNIVersion: cniVersion, Code: e.Code, Msg: e.Msg, Details: e.Details}
	}
	return ErrorJSON{CNIVersion: cniVersion, Code: IOFailure, Msg: "vxmesh-cni failed", Details: err.Error()}
}

// CodeOf is the code a runtime would see for err: 0 for none, IOFailure for an error without a code.
func CodeOf(err error) int {
	if err == nil {
		return 0
	}
	return ErrorObject(err, "").Code
}

// CompareVersions orders two dotted versions by their numeric parts: -1, 0 or 1.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		d := part(pa, i) - part(pb, i)
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

func part(p []string, i int) float64 {
	if i >= len(p) {
		return 0
	}
	v, err := strconv.ParseFloat(p[i], 64)
	if err != nil {
		return 0
	}
	return v
}

// IsSupportedVersion tells whether v is one of SupportedVersions.
func IsSupportedVersion(v string) bool {
	for _, s := range SupportedVersions {
		if s == v {
			return true
		}
	}
	return false
}
