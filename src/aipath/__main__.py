from aipath.quick import main

main()
