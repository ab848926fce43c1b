module github.com/wmsr/wmsr

go 1.26

require (
	github.com/edgelesssys/ego v1.8.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
