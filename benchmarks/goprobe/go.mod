module parkbench/goprobe

go 1.21
