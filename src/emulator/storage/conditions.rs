//! Request preconditions as Cloud Storage checks them
//! (<https://cloud.google.com/storage/docs/request-preconditions>): `ifGenerationMatch`,
//! `ifGenerationNotMatch`, `ifMetagenerationMatch`, `ifMetagenerationNotMatch` on uploads,
//! metadata reads, downloads and deletes, and `generation=` selecting one generation of an
//! object. A condition that does not hold is a 412 `conditionNotMet` (a 304 for a read whose
//! `NotMatch` condition fails, as the service answers); `ifGenerationMatch=0` means "only if
//! there is no live object".

use std::collections::HashMap;

use super::store::{ObjectMeta, StoreError};

/// The conditions of one request; all unset is no condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Conditions {
    pub(crate) generation: Option<i64>,
    pub(crate) if_generation_match: Option<i64>,
    pub(crate) if_generation_not_match: Option<i64>,
    pub(crate) if_metageneration_match: Option<i64>,
    pub(crate) if_metageneration_not_match: Option<i64>,
}

/// What the request does, which decides how a failed `NotMatch` is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A metadata get or a download: a failed `NotMatch` is 304 Not Modified.
    Read,
    /// An upload or a delete: every failed condition is 412.
    Write,
}

impl Conditions {
    /// The conditions in a request's query parameters; a value that is not a whole number is
    /// a 400 naming the parameter.
    pub(crate) fn from_query(params: &HashMap<String, String>) -> Result<Self, StoreError> {
        let number = |key: &str| -> Result<Option<i64>, StoreError> {
            match params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(value) => value.parse::<i64>().map(Some).map_err(|_| {
                    StoreError::invalid(format!(
                        "Invalid argument: {key}={value} is not a whole number (a generation or \
                         metageneration, as the object's metadata gives it)"
                    ))
                }),
            }
        };
        Ok(Conditions {
            generation: number("generation")?,
            if_generation_match: number("ifGenerationMatch")?,
            if_generation_not_match: number("ifGenerationNotMatch")?,
            if_metageneration_match: number("ifMetagenerationMatch")?,
            if_metageneration_not_match: number("ifMetagenerationNotMatch")?,
        })
    }

    /// Whether the conditions hold for the live object `current` (`None`: there is none).
    ///
    /// For a write, a missing object fails every condition but `ifGenerationMatch=0`; for a
    /// read or a delete, a missing object (or one whose live generation is not the
    /// `generation=` asked for) is a 404 before any condition is looked at.
    pub(crate) fn check(
        &self,
        current: Option<&ObjectMeta>,
        access: Access,
        bucket: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        if access == Access::Read || self.generation.is_some() {
            match current {
                None => return Err(StoreError::not_found(bucket, name)),
                Some(meta) if self.generation.is_some_and(|g| g != meta.generation) => {
                    return Err(StoreError::not_found(bucket, name));
                }
                Some(_) => {}
            }
        }
        let (generation, metageneration) = match current {
            Some(meta) => (Some(meta.generation), Some(meta.metageneration)),
            None => (None, None),
        };
        let holds = |expected: Option<i64>, actual: Option<i64>, equal: bool| match expected {
            None => true,
            Some(expected) => actual.is_some_and(|actual| (actual == expected) == equal),
        };
        let generation_match = match self.if_generation_match {
            None => true,
            Some(0) => generation.is_none(),
            Some(expected) => generation == Some(expected),
        };
        if !generation_match || !holds(self.if_metageneration_match, metageneration, true) {
            return Err(not_met());
        }
        if !holds(self.if_generation_not_match, generation, false)
            || !holds(self.if_metageneration_not_match, metageneration, false)
        {
            return Err(match access {
                Access::Read if current.is_some() => StoreError {
                    code: 304,
                    reason: "notModified",
                    message: "Not Modified".to_owned(),
                },
                _ => not_met(),
            });
        }
        Ok(())
    }
}

/// The service's 412.
fn not_met() -> StoreError {
    StoreError {
        code: 412,
        reason: "conditionNotMet",
        message: "At least one of the pre-conditions you specified did not hold.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn meta(generation: i64) -> ObjectMeta {
        ObjectMeta {
            bucket: "b".into(),
            name: "o".into(),
            size: 0,
            generation,
            metageneration: 1,
            updated: SystemTime::UNIX_EPOCH,
            content_type: "text/plain".into(),
            hashes: super::super::store::Hashes {
                crc32c: 0,
                md5: [0; 16],
            },
        }
    }

    fn code(conditions: Conditions, current: Option<&ObjectMeta>, access: Access) -> u16 {
        conditions
            .check(current, access, "b", "o")
            .map_or_else(|e| e.code, |()| 200)
    }

    #[test]
    fn generation_zero_means_absent() {
        let absent = Conditions {
            if_generation_match: Some(0),
            ..Conditions::default()
        };
        assert_eq!(code(absent, None, Access::Write), 200);
        assert_eq!(code(absent, Some(&meta(5)), Access::Write), 412);
    }

    #[test]
    fn each_condition_each_way() {
        let object = meta(5);
        let c = |f: fn(&mut Conditions)| {
            let mut c = Conditions::default();
            f(&mut c);
            c
        };
        let gm5 = c(|c| c.if_generation_match = Some(5));
        let gm6 = c(|c| c.if_generation_match = Some(6));
        let gn5 = c(|c| c.if_generation_not_match = Some(5));
        let gn6 = c(|c| c.if_generation_not_match = Some(6));
        let mm1 = c(|c| c.if_metageneration_match = Some(1));
        let mm2 = c(|c| c.if_metageneration_match = Some(2));
        let mn1 = c(|c| c.if_metageneration_not_match = Some(1));
        let mn2 = c(|c| c.if_metageneration_not_match = Some(2));
        for (conditions, write, read) in [
            (gm5, 200, 200),
            (gm6, 412, 412),
            (gn5, 412, 304),
            (gn6, 200, 200),
            (mm1, 200, 200),
            (mm2, 412, 412),
            (mn1, 412, 304),
            (mn2, 200, 200),
        ] {
            assert_eq!(
                code(conditions, Some(&object), Access::Write),
                write,
                "{conditions:?}"
            );
            assert_eq!(
                code(conditions, Some(&object), Access::Read),
                read,
                "{conditions:?}"
            );
        }
        // No live object: a write's conditions fail, a read is a 404.
        assert_eq!(code(gm5, None, Access::Write), 412);
        assert_eq!(code(gn6, None, Access::Write), 412);
        assert_eq!(code(gn6, None, Access::Read), 404);
        let pinned = c(|c| c.generation = Some(4));
        assert_eq!(code(pinned, Some(&object), Access::Read), 404);
    }

    #[test]
    fn bad_numbers_name_the_parameter() {
        let params = HashMap::from([("ifGenerationMatch".to_owned(), "x1".to_owned())]);
        let err = Conditions::from_query(&params).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message.contains("ifGenerationMatch=x1"),
            "{}",
            err.message
        );
    }
}
