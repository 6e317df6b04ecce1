module kvs-operator.local/node/printenv

go 1.26
