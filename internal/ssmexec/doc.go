// Package ssmexec runs a bake on SSM Automation, AWS's own engine for the
// same documents the local engine runs: it publishes the recipe as a
// content-addressed Automation document, starts it with
// StartAutomationExecution, follows it with the describe calls of one shared
// follower per process, stops it when the apply is interrupted or runs out of
// time, and removes what the execution leaves behind, as the local engine's
// ledger does. An execution outlives the process that started it: the next
// bake of the same key finds it by its tag and re-attaches to it, adopts its
// image, or cleans up after it, under the same ownership and lease rules as
// the local engine's sweep.
//
// It returns the local engine's Result and errors, so that callers record a
// bake the same way whichever executor ran it. It knows nothing of Terraform.
package ssmexec
