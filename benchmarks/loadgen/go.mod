module parkbench/loadgen

go 1.21
