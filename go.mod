module github.com/goaxes/axes

go 1.25.0
