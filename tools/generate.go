package tools

// `go generate ./...` refreshes the generated documentation inputs; `make docs`
// runs the same generator before tfplugindocs.
//go:generate go run ./actionsdoc
