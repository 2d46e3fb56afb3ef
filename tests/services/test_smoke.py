from factories import balance, import_contracts, small_program


def test_started_contract_earns_by_the_formula(db):
    small_program(db)
    # 250 000 SEK: 250 000 * 10 / 1000 = 2 500 volume + 100 count = 2 600
    s = import_contracts(db, "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n")
    assert s.counts["new"] == 1 and s.points_posted == 2600
    assert balance(db, "bo@bolt.se") == 2600
