//! Schedules in systemd calendar syntax (`*-*-* 02:30:00`, `Sun *-*-* 04:00`, `daily`), the
//! subset a backup needs, and their cron form for hosts without systemd. An expression cron
//! cannot say (seconds, a year, a date) is refused with the reason, never approximated.

/// One field of a cron line: `*`, a list of numbers, or `*/step`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Any,
    Values(Vec<u32>),
    Step(u32),
}

impl Field {
    fn cron(&self) -> String {
        match self {
            Field::Any => "*".into(),
            Field::Values(v) => v.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
            Field::Step(s) => format!("*/{s}"),
        }
    }
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Days of the week, 0 = Sunday as cron counts; empty = every day.
    weekdays: Vec<u32>,
    /// Day of the month (`*-*-01`); `Any` for every day.
    day: Field,
    hour: Field,
    minute: Field,
    /// Whether the expression named seconds other than 0 (systemd only).
    seconds: bool,
    /// The expression as written, for systemd's `OnCalendar=`.
    text: String,
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn weekday(name: &str) -> Option<u32> {
    let name = name.trim();
    DAYS.iter()
        .position(|d| {
            name.eq_ignore_ascii_case(d)
                || (name.len() > 3 && d.len() == 3 && name[..3].eq_ignore_ascii_case(d))
        })
        .map(|i| i as u32)
}

fn weekdays(text: &str) -> Result<Vec<u32>, String> {
    let mut days = Vec::new();
    for part in text.split(',') {
        if let Some((from, to)) = part.split_once("..") {
            let (a, b) = (weekday(from), weekday(to));
            let (Some(a), Some(b)) = (a, b) else {
                return Err(format!("{part:?} is not a range of weekdays (Mon..Fri)"));
            };
            let mut d = a;
            loop {
                days.push(d);
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        } else {
            days.push(
                weekday(part)
                    .ok_or_else(|| format!("{part:?} is not a weekday (Mon, Tue, ...)"))?,
            );
        }
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// `*`, `5`, `0,30`, `*/15` or `0/15` (systemd's "from 0 every 15").
fn field(text: &str, max: u32, what: &str) -> Result<Field, String> {
    if text == "*" {
        return Ok(Field::Any);
    }
    if let Some((start, step)) = text.split_once('/') {
        let step: u32 = step
            .parse()
            .map_err(|_| format!("{text:?}: the step of the {what} is not a number"))?;
        if (start == "*" || start == "0" || start == "00") && step > 0 && step <= max {
            return Ok(Field::Step(step));
        }
        return Err(format!(
            "{text:?}: only steps from 0 are supported for the {what} (e.g. 0/15)"
        ));
    }
    let mut values = Vec::new();
    for part in text.split(',') {
        let v: u32 = part
            .parse()
            .map_err(|_| format!("{part:?} is not a number for the {what}"))?;
        if v > max {
            return Err(format!("{v} is not a valid {what} (0 to {max})"));
        }
        values.push(v);
    }
    values.sort_unstable();
    values.dedup();
    Ok(Field::Values(values))
}

impl Calendar {
    /// Parses `[weekdays] [date] time` or a shorthand (`hourly`, `daily`, `weekly`,
    /// `monthly`).
    pub fn parse(text: &str) -> Result<Calendar, String> {
        let trimmed = text.trim();
        let zero = || Field::Values(vec![0]);
        let mut calendar = Calendar {
            weekdays: Vec::new(),
            day: Field::Any,
            hour: zero(),
            minute: zero(),
            seconds: false,
            text: trimmed.to_string(),
        };
        match trimmed {
            "" => return Err("a schedule is needed, e.g. \"*-*-* 02:30:00\" or \"daily\"".into()),
            "minutely" => {
                calendar.hour = Field::Any;
                calendar.minute = Field::Any;
                return Ok(calendar);
            }
            "hourly" => {
                calendar.hour = Field::Any;
                return Ok(calendar);
            }
            "daily" => return Ok(calendar),
            "weekly" => {
                calendar.weekdays = vec![1];
                return Ok(calendar);
            }
            "monthly" => {
                calendar.day = Field::Values(vec![1]);
                return Ok(calendar);
            }
            _ => {}
        }
        let mut words: Vec<&str> = trimmed.split_whitespace().collect();
        if words.len() > 3 {
            return Err(format!(
                "{trimmed:?} is not a calendar expression (weekdays, date, time)"
            ));
        }
        if let Some(first) = words.first() {
            if first
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            {
                calendar.weekdays = weekdays(first)?;
                words.remove(0);
            }
        }
        let (date, time) = match words.as_slice() {
            [time] if time.contains(':') => ("*-*-*", *time),
            [date] => (*date, "00:00:00"),
            [date, time] => (*date, *time),
            [] => ("*-*-*", "00:00:00"),
            _ => return Err(format!("{trimmed:?} is not a calendar expression")),
        };
        let parts: Vec<&str> = date.split('-').collect();
        match parts.as_slice() {
            ["*", "*", day] => calendar.day = field(day, 31, "day of the month")?,
            [_, _, _] => {
                return Err(format!(
                    "{date:?}: only every year and month (*-*-DD) is supported in the date"
                ))
            }
            _ => return Err(format!("{date:?} is not a date (*-*-* or *-*-DD)")),
        }
        let parts: Vec<&str> = time.split(':').collect();
        let (hour, minute, second) = match parts.as_slice() {
            [h, m] => (*h, *m, "00"),
            [h, m, s] => (*h, *m, *s),
            _ => return Err(format!("{time:?} is not a time (HH:MM[:SS])")),
        };
        calendar.hour = field(hour, 23, "hour")?;
        calendar.minute = field(minute, 59, "minute")?;
        match field(second, 59, "second")? {
            Field::Values(v) if v == [0] => {}
            _ => calendar.seconds = true,
        }
        Ok(calendar)
    }

    /// What systemd's `OnCalendar=` takes: the expression as written.
    pub fn systemd(&self) -> &str {
        &self.text
    }

    /// The five time fields of a cron line, or why cron cannot say it.
    pub fn cron(&self) -> Result<String, String> {
        if self.seconds {
            return Err(format!(
                "{:?} names seconds, which cron cannot schedule (cron runs at whole minutes)",
                self.text
            ));
        }
        if !self.weekdays.is_empty() && self.day != Field::Any {
            return Err(format!(
                "{:?} names both weekdays and a day of the month; cron would run on either, not on both",
                self.text
            ));
        }
        let dow = if self.weekdays.is_empty() {
            "*".to_string()
        } else {
            self.weekdays
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        Ok(format!(
            "{} {} {} * {dow}",
            self.minute.cron(),
            self.hour.cron(),
            self.day.cron()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_forms() {
        let cron = |t: &str| Calendar::parse(t).unwrap().cron().unwrap();
        assert_eq!(cron("*-*-* 02:30:00"), "30 2 * * *");
        assert_eq!(cron("Sun *-*-* 04:00:00"), "0 4 * * 0");
        assert_eq!(cron("Mon..Fri 22:15"), "15 22 * * 1,2,3,4,5");
        assert_eq!(cron("*-*-01 03:00"), "0 3 1 * *");
        assert_eq!(cron("*-*-* *:0/15:00"), "*/15 * * * *");
        assert_eq!(cron("minutely"), "* * * * *");
        assert_eq!(cron("daily"), "0 0 * * *");
        assert_eq!(cron("weekly"), "0 0 * * 1");
    }

    #[test]
    fn what_cron_cannot_say_is_refused() {
        let e = Calendar::parse("*-*-* 02:30:15")
            .unwrap()
            .cron()
            .unwrap_err();
        assert!(e.contains("seconds"), "{e}");
        assert!(Calendar::parse("2027-01-01 00:00").is_err());
        assert!(Calendar::parse("*-*-* 25:00").is_err());
        assert!(Calendar::parse("Funday 10:00").is_err());
        assert_eq!(
            Calendar::parse("*-*-* 02:30:15").unwrap().systemd(),
            "*-*-* 02:30:15"
        );
    }
}
