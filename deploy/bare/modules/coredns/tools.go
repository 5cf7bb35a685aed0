//go:build tools

// main: github.com/coredns/coredns
// The command is this module's main.go; this file only names the pinned module.
package main
