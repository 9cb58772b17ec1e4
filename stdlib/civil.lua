-- civil.lua: days since 1970-01-01 to the civil date (year, month, day), proleptic Gregorian, by H. Hinnant's
-- algorithm (// floors, so days before 1970 need no special case). For the futures calendar's instrument names
-- (stdlib/futures.lua) and the report's dates (stdlib/report.lua), which must not depend on os.date or TZ.
return function(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d, m = doy - (153 * mp + 2) // 5 + 1, mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end
