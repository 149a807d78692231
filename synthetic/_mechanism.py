"""The simulator's mechanism parameters: every rate and weight of the generative model, in one frozen dataclass.

Calibration to the case study is done here, by tuning these mechanism parameters, never by patching outputs.
Rates are per month unless said otherwise; `logit`/`log` terms add on their scale.
"""

from __future__ import annotations

from dataclasses import dataclass

# Age (whole years 0..17) effects on the log care-entry hazard: infants and adolescents highest.
_AGE_ENTRY = (3.30, 1.00, 0.60, 0.40, 0.20, -0.42, -0.52, -0.52, -0.47, -0.42,
              -0.37, -0.22, -0.02, 0.18, 0.28, 0.28, 0.08, -0.42)
# A&E attendance base rate per month by age in years.
_AGE_AE = (0.116, 0.084, 0.084, 0.061, 0.055, 0.044, 0.042, 0.042, 0.042, 0.042,
           0.044, 0.051, 0.055, 0.061, 0.069, 0.076, 0.078, 0.078)


@dataclass(frozen=True)
class Mechanism:
    # --- population ---------------------------------------------------------------------------------
    family_sizes: tuple[float, ...] = (0.40, 0.35, 0.15, 0.06, 0.03, 0.01)   # P(1..6 children)
    move_out_rate: float = 0.0055          # families leaving the council per month
    # Families who move in with children carry a modest frailty shift: mobility goes with adversity (Jelleyman and
    # Spencer, J Epidemiol Community Health 2008; 62:584), but mostly through instability that the hidden state
    # already holds (homelessness, unemployment: Merrick et al., Child Abuse Negl 2018; 79:485), hence small.
    move_in_frailty_shift: float = 0.2
    births_to_existing_share: float = 0.55
    uasc_per_10k_year: float = 2.6         # unaccompanied asylum-seeking adolescents arriving
    deprivation_skew: float = 0.12         # the city is deprived: weight exp(-skew * (decile - 1))
    hub_tilt: float = 1.4                  # spread of hubs' deprivation mixes

    # --- hidden family state ------------------------------------------------------------------------
    frailty_mean: float = 0.12             # the city's families, before deprivation and moving in
    frailty_deprivation: float = 0.55      # mean frailty shift from most to least deprived (half-range)
    # onset logit = a + b * frailty + coupling * (other problems present); exit probability per month
    da_onset: tuple[float, float] = (-6.3, 0.9)
    da_exit: float = 0.045
    sub_onset: tuple[float, float] = (-6.9, 1.0)
    sub_exit: float = 0.035
    mh_onset: tuple[float, float] = (-5.3, 0.6)
    mh_exit: float = 0.055
    hous_onset: tuple[float, float] = (-5.6, 0.8)
    hous_exit: float = 0.10
    problem_coupling: float = 0.6
    # harm H: AR(1) towards S = w_frailty * frailty + sum(w_problem * problem)
    w_frailty: float = 0.55
    w_problems: tuple[float, float, float, float] = (1.0, 1.1, 0.5, 0.5)   # da, sub, mh, housing
    harm_persistence: float = 0.88
    harm_noise: float = 0.22
    visibility_sd: float = 0.7             # lognormal spread of how visible a family is to agencies
    invisible_share: float = 0.10          # families agencies barely see
    # visibility bias (off by default; config simulation.visibility_bias): agencies see the families of these
    # ethnicity codes `low_visibility_factor` times as often as others (a known answer for the fairness audit)
    low_visibility_codes: tuple[int, ...] = ()
    low_visibility_factor: float = 1.0
    crisis_base: float = 0.00011           # sudden family crises (bereavement, arrest, hospital, ...)
    crisis_harm: float = 0.8
    crisis_entry_young: float = 0.55       # P(a child under 5 is taken into care | crisis)
    crisis_entry_old: float = 0.30

    # --- hidden child state -------------------------------------------------------------------------
    disability_rate: float = 0.06
    behaviour_onset: tuple[float, float] = (-6.3, 0.55)  # age 10+; logit a + b * H (+ male, + 13+)
    behaviour_male: float = 0.5
    behaviour_13plus: float = 0.6
    behaviour_exit: float = 0.04

    # --- entering and leaving care ------------------------------------------------------------------
    entry_base: float = -10.66               # log hazard intercept
    entry_harm: float = 1.05
    entry_age: tuple[float, ...] = _AGE_ENTRY
    entry_cp: float = 2.15
    entry_cin: float = 0.8
    entry_recent_referral: float = 0.45
    entry_disability: float = 0.5
    entry_behaviour: float = 1.1
    entry_previous_care: float = 0.9
    entry_early_help: float = -0.35        # for 24 months after early help starts: it modestly helps
    entry_cap: float = 0.5
    # Early help offered from outside the mechanism (a policy acting on risk lists, synthetic/_offers.py): the
    # relative reduction in a child's monthly chance of entering care for `offered_help_months` after the offered
    # episode starts (0: none; the default simulation never offers, so it is unaffected).
    offered_help_effect: float = 0.0
    offered_help_months: int = 24
    care_exit_rate: float = 0.0235
    care_exit_infant: float = 0.036        # adoption for those who came in as infants
    # category of need weights: N1..N8 base, plus drivers
    need_base: tuple[float, ...] = (8.2, 0.0, 0.0, 0.25, 0.30, 0.0, 0.03, 0.05)
    need_disability: float = 2.5
    need_parent_illness: float = 0.45
    need_housing: float = 0.5
    need_domestic_abuse: float = 1.0
    need_behaviour: float = 2.2
    need_crisis: tuple[float, ...] = (3.5, 0.0, 0.8, 1.2, 0.0, 0.0, 0.0, 0.5)

    # --- partner agencies (rates per month, times the family's visibility where they depend on it) ------
    # Calibrated to published national rates (synthetic/calibration.py PARTNER_TARGETS, docs/simulator.md)
    da_notification: tuple[float, float] = (0.00045, 0.062)   # base, per active domestic abuse
    adult_mh_service: tuple[float, float] = (0.00027, 0.032)
    adult_sub_service: tuple[float, float] = (0.00005, 0.013)
    homelessness: tuple[float, float] = (0.00005, 0.016)
    missing: tuple[float, float] = (0.00012, 0.027)           # age 10+, base, per behaviour risk
    youth_offence: tuple[float, float] = (0.00015, 0.011)
    ae_harm: float = 0.25
    ae_scale: float = 0.55                # times the age profile below
    hv_concern: tuple[float, float] = (-6.42, 0.9)             # under 5, log rate a + b * H
    absence: tuple[float, float, float] = (-2.7, 0.7, 1.5)     # logit per term: a + b * H + c * behaviour
    exclusion: tuple[float, float, float, float] = (-6.6, 0.6, 2.0, 0.6)  # logit a + b*H + c*beh + d*male
    permanent_share: float = 0.021        # of exclusions, permanent (DfE 2016/17: 7,720 of 389,585)
    ae_age: tuple[float, ...] = _AGE_AE

    # --- contacts: P(a partner event leads to a contact with children's social care) ----------------
    contact_da: float = 0.50
    contact_missing: float = 0.90
    contact_offence: float = 0.60
    contact_ae: float = 0.012
    contact_hv: float = 0.45
    contact_adult_services: float = 0.20
    contact_homeless: float = 0.50
    contact_absence: float = 0.08
    contact_exclusion: float = 0.20
    contact_direct: tuple[float, float] = (-4.95, 0.6)         # other contacts: log rate a + b * H
    # sources of direct contacts: police, school, health, la_services, individual, housing, other, unknown
    direct_sources: tuple[float, ...] = (0.06, 0.24, 0.05, 0.22, 0.16, 0.03, 0.18, 0.06)

    # --- the social care pathway ---------------------------------------------------------------------
    referral: tuple[float, float] = (-2.45, 0.9)               # logit a + b * H
    referral_early_help: float = 0.8                          # contacts during early help step up
    referral_recent: float = 0.8
    assessment_rate: float = 0.92
    section47: tuple[float, float] = (-2.4, 0.8)
    cp_given_s47: tuple[float, float] = (-1.6, 0.7)
    cin_plan: tuple[float, float] = (-1.7, 0.6)
    early_help: tuple[float, float, float] = (-3.7, 0.3, 3.2)  # after a contact: logit a + b*H + c*(under 5)
    step_down_nfa: float = 0.10            # assessment with no further action -> early help
    eh_close: float = 0.15
    eh_step_up: tuple[float, float] = (-3.5, 0.9)             # at close: logit a + b * H -> referral
    cin_close: float = 0.11
    cin_step_down: float = 0.20
    cp_close: float = 0.11
    cp_step_down_cin: float = 0.55
    cp_step_down_eh: float = 0.15
    # what an assessment finds: P(factor recorded | the difficulty is present): 1B alcohol, 2B drugs, 3B domestic
    # violence, 4B mental health (parent/carer)
    factor_seen: tuple[float, float, float, float] = (0.40, 0.43, 0.80, 0.72)
