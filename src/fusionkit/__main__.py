from fusionkit.cli import main

main()
