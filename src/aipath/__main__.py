from aipath.cli import main

main()
