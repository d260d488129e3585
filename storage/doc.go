// Package storage is the contract between the axes core and its stores:
// the per-bucket step function [Apply], the [Store] interface that runs
// steps, and the optional capabilities a store may offer.
//
// Application code does not need this package: it creates a store
// (memstore, sqlstore, ...) and hands it to axes.New. Store authors start
// here, and test their store with the axestest package.
//
// # One bucket, one atomic step
//
// A login attempt is counted in one bucket per lockout parameter group
// (the client's address, its username, both, ...). Each bucket is one key
// with a small [State]; the users' shares of its failures live inside it.
// A store applies one [Step] to one bucket at a time, atomically: it never
// needs to change two keys together. The core coordinates the buckets of
// an attempt: it asks every bucket for a place, and gives back the places
// taken when one bucket refuses. The guarantee is exact per bucket: with a
// limit of N, at most N credential checks run for a bucket in a window,
// under any concurrency and across processes.
//
// # The specification
//
// [Apply] is the only decision code in axes. docs/step.md in the
// repository gives it as a table (step kind × state → new state and
// answer); testdata/steps.json holds golden vectors generated from it,
// which a port (a Lua script, SQL) runs through axestest.RunStepVectors.
//
// Times are integer Unix microseconds and durations integer microseconds,
// so that a Lua number (a double) holds them exactly.
//
// The package imports nothing from the rest of the project.
package storage
